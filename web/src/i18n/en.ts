import type zh from './zh'

const en: typeof zh = {
  app: { name: 'ChatGalaxy', tagline: 'A galaxy of AI personas to talk to' },
  nav: { chat: 'Chat', history: 'History', roles: 'Roles', profile: 'Profile', login: 'Log in', register: 'Sign up', logout: 'Log out', language: '中文' },
  common: {
    loading: 'Loading…', retry: 'Retry', cancel: 'Cancel', save: 'Save', create: 'Create', delete: 'Delete', close: 'Close',
    error: 'Something went wrong', empty: 'Nothing here yet', saved: 'Saved', copied: 'Copied', confirmDelete: 'Delete this?',
    notConfigured: 'The Supabase URL or anon key is not configured (/config.js).',
  },
  auth: {
    email: 'Email', password: 'Password', confirmPassword: 'Confirm password', username: 'Username',
    loginTitle: 'Welcome back', loginSubtitle: 'Log in to continue your conversations', loginButton: 'Log in',
    registerTitle: 'Create your account', registerSubtitle: 'Pick a persona and start talking to Qwen', registerButton: 'Sign up',
    noAccount: 'No account yet?', haveAccount: 'Already have an account?', goRegister: 'Sign up', goLogin: 'Log in',
    emailInvalid: 'Enter a valid email address', passwordMismatch: 'The passwords do not match',
    rules: { length: 'At least 8 characters', letter: 'Contains a letter', digit: 'Contains a digit' },
    usernameRule: '3–50 characters, a Chinese character counts as two (now {width})',
    usernameProblems: { empty: 'Enter a username', spaces: 'No leading or trailing spaces', tooShort: 'Username is too short', tooLong: 'Username is too long' },
    usernameChecking: 'Checking username…', usernameFree: 'Username is available', usernameTaken: 'Username is taken',
    invalidCredentials: 'Wrong email or password', emailTaken: 'This email is already registered', weakPassword: 'The password does not meet the rules',
    confirmEmail: 'Signed up. Check your email to confirm, then log in.', registered: 'Signed up. Welcome!',
    rateLimited: 'Too many attempts, try again later',
  },
  chat: {
    newChat: 'New chat', sessions: 'Chats', noSessions: 'No chats yet: send a message to start one', pickRole: 'Pick a persona',
    placeholder: 'Type a message…', keys: 'Enter sends · Shift+Enter adds a line', send: 'Send', stop: 'Stop', regenerate: 'Regenerate',
    thinking: 'Thinking…', stopped: 'Stopped', failed: 'The answer failed', emptyTitle: 'Start a new conversation', emptyHint: 'Pick a persona and ask anything.',
    tokens: '{n} tokens', seconds: '{n} s', sessionsLoadFailed: 'Could not load chats', messagesLoadFailed: 'Could not load messages',
    sendFailed: 'Could not send', you: 'You', menu: 'Chats', reconnecting: 'Realtime connection lost, reconnecting…',
    notFound: 'This chat does not exist or is not yours', untitled: 'Untitled chat', deleteSession: 'Delete chat',
  },
  history: {
    title: 'Chat history', searchPlaceholder: 'Search messages across all chats (Chinese or English)', search: 'Search', results: 'Results',
    noResults: 'No matching messages', noSessions: 'No chats yet', messages: '{n} messages', open: 'Open',
    archived: 'Archived', clear: 'Clear search', searchFailed: 'Search failed', user: 'Me', assistant: 'AI',
  },
  roles: {
    title: 'AI personas', builtIn: 'Built-in', mine: 'Mine', create: 'Create persona', name: 'Name', description: 'Description',
    systemPrompt: 'System prompt', noMine: 'You have not created a persona yet', created: 'Persona created', chatWith: 'Chat with it',
    nameRequired: 'Enter a name', promptRequired: 'Enter a system prompt', private: 'Private', deleted: 'Persona deleted',
  },
  qwen: {
    model: 'Model', modelDefault: 'Default model', thinking: 'Deep thinking', thinkingUnsupported: 'This model cannot think deeply',
    search: 'Web search', searchUnsupported: 'This model cannot search the web', thinkingNow: 'Thinking deeply…', thoughtFor: 'Thought for {n} s',
    thought: 'Thought', showReasoning: 'Show the reasoning', hideReasoning: 'Hide the reasoning', stoppedWhileThinking: 'Stopped at the length limit while thinking; no answer was given',
    sources: 'Sources', copyAnswer: 'Copy answer', copyCode: 'Copy', copyFailed: 'Could not copy to the clipboard',
    moderated: 'Content moderation refused this turn; it will not be sent to the model again. You can go on chatting.',
    settings: 'Model and parameters', temperature: 'Temperature (0–2)', topP: 'Top P (0–1]', maxTokens: 'Max output tokens', thinkingDefault: 'Deep thinking on by default',
    invalidSettings: 'A parameter is out of range',
  },
  profile: {
    title: 'Profile', email: 'Email', username: 'Username', avatar: 'Avatar URL', joined: 'Joined', lastLogin: 'Last login',
    stats: 'Stats', sessions: 'Chats', messages: 'Messages', changePassword: 'Change password', newPassword: 'New password',
    passwordChanged: 'Password changed', language: 'Language',
  },
  guest: {
    try: 'Try without an account', banner: 'You are trying ChatGalaxy as a guest; sign up to keep your chats.',
    left: '{n} questions left', signUp: 'Sign up to keep them',
    limitReached: 'Guest questions used up: sign up to keep chatting', keepTitle: 'Sign up to keep your chats',
    keepSubtitle: 'Same account, so every conversation stays yours',
    confirmEmail: 'Password set. Check your email and confirm the address to finish signing up.',
  },
  files: {
    attach: 'Attach files', hint: 'Attach images, PDF, text or Word files by button, drag and drop or paste',
    uploading: 'Uploading…', remove: 'Remove', badType: '{name}: this file type cannot be attached',
    tooLarge: '{name} is larger than 20 MB', tooMany: 'At most {n} files per message', uploadFailed: 'Could not upload {name}',
    downloadFailed: 'The file could not be opened', avatarUpload: 'Upload a picture', avatarRemove: 'Remove',
    avatarHint: 'PNG, JPEG, GIF or WebP; cropped to a square', avatarType: 'Pick a PNG, JPEG, GIF or WebP picture',
    avatarSaved: 'Avatar saved', avatarStored: 'Uploaded picture (stored in ChatGalaxy)',
  },
  mfa: {
    title: 'Two-factor sign-in', explain: 'Besides your password, signing in asks for the 6-digit code from an authenticator app (Google Authenticator, 1Password…).',
    turnOn: 'Turn on two-factor sign-in', turnOff: 'Turn off two-factor sign-in', on: 'On',
    scan: 'Scan the QR code with your authenticator app, or type the secret below, then enter the code it shows:',
    qrAlt: 'Two-factor QR code', codePlaceholder: '6-digit code', confirm: 'Turn on', enabled: 'Two-factor sign-in is on', disabled: 'Two-factor sign-in is off',
    askCode: 'This account has two-factor sign-in on: enter the 6-digit code from your authenticator app.', verify: 'Verify',
    otherAccount: 'Use another account', codeInvalid: 'Enter the 6-digit code', codeWrong: 'The code is wrong or has expired',
  },
}

export default en
