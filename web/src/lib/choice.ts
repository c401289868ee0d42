/**
 * A `<select>` bound with `:value` to a stored choice: when a change is refused the stored value
 * stays as it was, so nothing re-renders the select and it would go on showing the refused pick.
 * `chooseStored` saves the pick and, when `save` says it was refused, shows the stored value again.
 */
export async function chooseStored(event: Event, stored: () => string, save: (picked: string) => Promise<boolean>): Promise<void> {
  const select = event.target as HTMLSelectElement
  if (!(await save(select.value))) select.value = stored()
}
