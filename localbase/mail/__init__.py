"""The local stack's mail: what Auth "sends" (templates, one JSON file per mail) and the mailbox that
shows it (`python -m localbase mail`, Mailpit's API on :54324), as `supabase start` has."""
