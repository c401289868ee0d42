/**
 * A persona's name and description in the reader's language: `ai_roles.translations` holds them
 * per language (`{"en": {"name", "description"}}`, checked by ai_roles_translations_shape), and a
 * text it lacks falls back to the stored `name` / `description`, in whatever language they were
 * written. The texts live in the database, not here, so an admin's edit is what everyone reads.
 */

/** The languages a role may carry texts for (the database allows these keys only). */
export type RoleLocale = 'en' | 'zh'

export interface RoleTexts {
  name?: string
  description?: string
}

export type RoleTranslations = Partial<Record<RoleLocale, RoleTexts>>

export interface Translatable {
  name: string
  description: string | null
  translations?: RoleTranslations | null
}

/** The UI's locale (`zh-CN`, `en`) as a translations key. */
export function roleLocale(uiLocale: string): RoleLocale {
  return uiLocale.toLowerCase().startsWith('en') ? 'en' : 'zh'
}

export function roleName(role: Translatable, uiLocale: string): string {
  return role.translations?.[roleLocale(uiLocale)]?.name || role.name
}

export function roleDescription(role: Translatable, uiLocale: string): string | null {
  return role.translations?.[roleLocale(uiLocale)]?.description || role.description
}

/**
 * `translations` with one language's texts replaced by `texts`, trimmed; a blank text is left
 * out (the stored one stands in) and a language left with none is dropped, as the database wants.
 */
export function withRoleTexts(
  translations: RoleTranslations | null | undefined,
  locale: RoleLocale,
  texts: { name: string; description: string },
): RoleTranslations {
  const next: RoleTranslations = { ...(translations ?? {}) }
  const kept: RoleTexts = {}
  const name = texts.name.trim()
  const description = texts.description.trim()
  if (name) kept.name = name
  if (description) kept.description = description
  if (kept.name || kept.description) next[locale] = kept
  else delete next[locale]
  return next
}

/** Every language a role may carry texts for, in the order editors show them. */
export const ROLE_LOCALES: readonly RoleLocale[] = ['zh', 'en']

/** The database's limits on a text (ai_roles_translations_shape, as for `name` / `description`). */
export const ROLE_NAME_MAX = 100
export const ROLE_DESCRIPTION_MAX = 2000

/** A role's texts per language as an editor holds them: every language, blank where there is none. */
export type RoleTextsDraft = Record<RoleLocale, { name: string; description: string }>

/** The language an editor offers first for a translation: the one the UI is not in. */
export function otherRoleLocale(uiLocale: string): RoleLocale {
  return roleLocale(uiLocale) === 'en' ? 'zh' : 'en'
}

/** An editor's draft of `translations` (blank fields where a language has no text). */
export function roleTextsDraft(translations: RoleTranslations | null | undefined): RoleTextsDraft {
  const draft = {} as RoleTextsDraft
  for (const locale of ROLE_LOCALES) {
    draft[locale] = { name: translations?.[locale]?.name ?? '', description: translations?.[locale]?.description ?? '' }
  }
  return draft
}

/** `translations` with every language of `draft` written over it (withRoleTexts, language by language). */
export function translationsFromDraft(translations: RoleTranslations | null | undefined, draft: RoleTextsDraft): RoleTranslations {
  return ROLE_LOCALES.reduce((next, locale) => withRoleTexts(next, locale, draft[locale]), translations ?? {})
}

/**
 * The first text of `draft` the database would refuse (too long once trimmed, counted in characters
 * as Postgres' char_length does), or null. A blank text is fine: it means "no translation".
 */
export function roleTextsProblem(draft: RoleTextsDraft): { locale: RoleLocale; field: 'name' | 'description' } | null {
  const length = (text: string): number => [...text.trim()].length
  for (const locale of ROLE_LOCALES) {
    if (length(draft[locale].name) > ROLE_NAME_MAX) return { locale, field: 'name' }
    if (length(draft[locale].description) > ROLE_DESCRIPTION_MAX) return { locale, field: 'description' }
  }
  return null
}

/** The database's limit on a system prompt (ai_roles: 1 to 8000 characters once trimmed). */
export const ROLE_PROMPT_MAX = 8000

export type RoleFormField = 'name' | 'description' | 'system_prompt'

/**
 * The first of a persona's own texts the database would refuse, or null. Each is kept trimmed
 * (the database trims with String.prototype.trim()'s blanks, ai_roles_trim_texts) and measured
 * then, in characters as Postgres' char_length counts them: a name of 1 to 100, a description
 * of at most 2000, a system prompt of 1 to 8000.
 */
export function roleFormProblem(form: { name: string; description: string; system_prompt: string }): {
  field: RoleFormField
  problem: 'required' | 'tooLong'
} | null {
  const length = (text: string): number => [...text.trim()].length
  if (length(form.name) === 0) return { field: 'name', problem: 'required' }
  if (length(form.name) > ROLE_NAME_MAX) return { field: 'name', problem: 'tooLong' }
  if (length(form.description) > ROLE_DESCRIPTION_MAX) return { field: 'description', problem: 'tooLong' }
  if (length(form.system_prompt) === 0) return { field: 'system_prompt', problem: 'required' }
  if (length(form.system_prompt) > ROLE_PROMPT_MAX) return { field: 'system_prompt', problem: 'tooLong' }
  return null
}

/** A form's limit on `field`, for its "at most {max} characters" message. */
export function roleFormMax(field: RoleFormField): number {
  return field === 'name' ? ROLE_NAME_MAX : field === 'description' ? ROLE_DESCRIPTION_MAX : ROLE_PROMPT_MAX
}
