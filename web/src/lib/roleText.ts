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
