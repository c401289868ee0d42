-- A deleted account writes no more files. Deleting a user deletes every object under their folders
-- (delete_user_objects, on auth.users), but their access token stays valid until it expires (up to
-- an hour: Storage, like storage-api, checks only its signature), and the storage policies asked
-- only that the path's first folder be the token's `sub`: that token could still upload into the
-- public `avatars` bucket (served to anyone, for good) and into `attachments`, files that no account
-- owned and nothing would ever remove.
--
-- Two RESTRICTIVE policies add "the caller still exists" to every insert and update a user makes on
-- storage.objects, whatever the bucket, on top of each bucket's own permissive policies, which stay
-- exactly as they are (the attachments ones as 20261205100000_attached_files_stay_as_sent.sql left
-- them): a row can be written only where both the bucket's rule and this one allow it. The check is
-- the caller's own profile, which exists exactly as long as the user (the sign-up trigger creates
-- it, the account's deletion cascades to it) and which the caller may read (its owner policy): one
-- primary-key probe per statement, uncorrelated, so planned once however many rows an update
-- touches. Deletes need no such rule (nothing is left under a deleted user's folders to delete),
-- nor reads. service_role and signed-URL uploads (written as admin) are not bound by policies.

create policy "objects: only a user who still exists uploads" on storage.objects
  as restrictive for insert to authenticated
  with check (exists (select 1 from public.profiles p where p.id = (select auth.uid())));

create policy "objects: only a user who still exists replaces" on storage.objects
  as restrictive for update to authenticated
  using (exists (select 1 from public.profiles p where p.id = (select auth.uid())))
  with check (exists (select 1 from public.profiles p where p.id = (select auth.uid())));
