/**
 * A persona's texts in the web app's forms are measured as they are kept: trimmed, in characters
 * (lib/roleText.ts roleFormProblem), as the database and the API measure them; no input cuts a
 * text at its limit before it is trimmed (an input's maxlength counts blanks and UTF-16 units).
 */
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import RoleTexts from '@/components/RoleTexts.vue'
import { roleFormProblem, roleTextsDraft } from '@/lib/roleText'

const ok = { name: 'Pirate', description: '', system_prompt: 'Talk like a pirate.' }

describe('roleFormProblem', () => {
  it('counts the kept text: a name of 100 characters after a space fits, one of 101 does not', () => {
    expect(roleFormProblem({ ...ok, name: ' ' + 'n'.repeat(100) })).toBeNull()
    expect(roleFormProblem({ ...ok, name: 'n'.repeat(101) + '\n' })).toEqual({ field: 'name', problem: 'tooLong' })
    expect(roleFormProblem({ ...ok, description: '\u3000' + 'd'.repeat(2000) })).toBeNull()
    expect(roleFormProblem({ ...ok, description: 'd'.repeat(2001) })).toEqual({ field: 'description', problem: 'tooLong' })
    expect(roleFormProblem({ ...ok, system_prompt: 'p'.repeat(8000) + '\n\n' })).toBeNull()
    expect(roleFormProblem({ ...ok, system_prompt: ' ' + 'p'.repeat(8001) })).toEqual({ field: 'system_prompt', problem: 'tooLong' })
  })

  it('counts characters, not UTF-16 units: a name of 100 emoji fits', () => {
    expect(roleFormProblem({ ...ok, name: '🏴‍☠'.slice(0, 2).repeat(100) })).toBeNull()
  })

  it('asks for a name and a prompt that are more than blanks', () => {
    expect(roleFormProblem({ ...ok, name: '\u3000 ' })).toEqual({ field: 'name', problem: 'required' })
    expect(roleFormProblem({ ...ok, system_prompt: '\n\t' })).toEqual({ field: 'system_prompt', problem: 'required' })
  })
})

describe('the translations editor', () => {
  it('keeps a pasted text whole: no maxlength cuts it before it is trimmed', async () => {
    const wrapper = mount(RoleTexts, { props: { modelValue: roleTextsDraft({}) }, global: { plugins: [makeI18n('en')] } })
    const name = wrapper.find('[data-testid=role-texts-name-zh]')
    expect(name.attributes('maxlength')).toBeUndefined()
    expect(wrapper.find('[data-testid=role-texts-description-zh]').attributes('maxlength')).toBeUndefined()
  })
})
