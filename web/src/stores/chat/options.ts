/**
 * The models offered (read once; without the list the pickers offer the default model only) and
 * the open session's model and thinking switch. Before the first question there is no session yet:
 * the choice waits in `draftModel`/`draftThinking` and the new session is created with it.
 */
import { supabase } from '@/lib/supabase'
import type { ModelInfo } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'

const MODEL_COLUMNS =
  'id,display_name,description,context_window,max_output,supports_thinking,supports_vision,supports_search,supports_documents'

export function modelOptions(state: ChatState, list: SessionList) {
  async function loadModels(): Promise<void> {
    if (state.models.value.length > 0) return
    const { data, error } = await supabase().from('models').select(MODEL_COLUMNS).order('sort_order').order('id')
    if (error) throw error
    state.models.value = (data ?? []) as ModelInfo[]
  }

  /** Change the open session's model or thinking switch (between turns), or the new chat's. */
  async function setOptions(change: { model?: string | null; thinking?: boolean | null }): Promise<void> {
    const id = state.currentId.value
    if (!id) {
      if ('model' in change) state.draftModel.value = change.model ?? null
      if ('thinking' in change) state.draftThinking.value = change.thinking ?? null
      return
    }
    await list.update(id, change)
  }

  return { loadModels, setOptions }
}
