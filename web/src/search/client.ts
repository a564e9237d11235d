// The three searches of the REST API (docs/search.md) behind one interface, so the
// panel can be given another implementation in tests.
import { api } from '../lib/api'

export interface MelodyHit {
  score_id: string
  title: string
  part_id: string
  part_name: string
  voice: number
  note_index: number
  measure_ids: string[]
  measure_numbers: number[]
  /** The notes the match covers (empty for a score indexed by an older server). */
  note_ids: string[]
  similarity: number
}

export type TextKind = 'title' | 'composer' | 'lyrics' | 'chat' | 'comment'

export interface TextHit {
  score_id: string
  title: string
  kind: TextKind
  ref: string
  text: string
  rank: number
}

export interface SemanticHit {
  score_id: string
  title: string
  kind: 'description' | 'analysis' | 'chat' | 'comment'
  ref: string
  text: string
  similarity: number
}

export interface MelodyQuery {
  notes: string[]
  /** Given: the rhythm must match too (up to a tempo factor). */
  durations?: string[]
  minSimilarity?: number
}

export interface SearchClient {
  melody(query: MelodyQuery): Promise<MelodyHit[]>
  text(query: string): Promise<TextHit[]>
  semantic(query: string): Promise<SemanticHit[]>
}

/** The server's searches; `scoreId` lets a share link's token search its score. */
export function httpSearch(scoreId?: string): SearchClient {
  const get = async <T>(path: string, params: Record<string, string>): Promise<T[]> => {
    const query = new URLSearchParams(params).toString()
    const body = await api<{ hits: T[] }>(`${path}?${query}`, scoreId ? { scoreId } : {})
    return body.hits
  }
  return {
    melody: ({ notes, durations, minSimilarity = 0.6 }) =>
      get<MelodyHit>('/api/search/melody', {
        notes: notes.join(','),
        ...(durations ? { durations: durations.join(',') } : {}),
        min_similarity: String(minSimilarity),
        limit: '50',
      }),
    text: (q) => get<TextHit>('/api/search/text', { q, limit: '50' }),
    semantic: (q) => get<SemanticHit>('/api/search/semantic', { q, limit: '20' }),
  }
}
