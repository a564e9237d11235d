import { afterEach, describe, expect, it, vi } from 'vitest'
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { ApiError } from '../lib/api'
import { SearchPanel } from './SearchPanel'
import type { MelodyHit, MelodyQuery, SearchClient, SemanticHit, TextHit } from './client'

afterEach(cleanup)

const ode: MelodyHit = {
  score_id: 's_ode',
  title: 'Ode to Joy',
  part_id: 'p_1',
  part_name: 'Violin',
  voice: 1,
  note_index: 4,
  measure_ids: ['m_2', 'm_3'],
  measure_numbers: [2, 3],
  note_ids: ['n_5', 'n_6', 'n_7', 'n_8', 'n_9'],
  similarity: 1,
}

/** A client answering from fixed hits and recording what it was asked. */
function client(
  answers: {
    melody?: MelodyHit[]
    text?: TextHit[]
    semantic?: SemanticHit[] | Error
  } = {},
) {
  const asked: { melody: MelodyQuery[]; text: string[]; semantic: string[] } = {
    melody: [],
    text: [],
    semantic: [],
  }
  const c: SearchClient = {
    melody: (q) => {
      asked.melody.push(q)
      return Promise.resolve(answers.melody ?? [])
    },
    text: (q) => {
      asked.text.push(q)
      return Promise.resolve(answers.text ?? [])
    },
    semantic: (q) => {
      asked.semantic.push(q)
      const a = answers.semantic ?? []
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a)
    },
  }
  return { c, asked }
}

describe('SearchPanel, melody', () => {
  it('searches typed notes, rhythm ignored, and opens a hit at its notes', async () => {
    const { c, asked } = client({ melody: [ode, { ...ode, score_id: 's_x', similarity: 0.75 }] })
    const onOpen = vi.fn()
    render(<SearchPanel client={c} onOpen={onOpen} currentScore="s_x" />)
    await userEvent.type(screen.getByLabelText(/^Notes/), 'A4 A4 Bb4 C5 C5')
    fireEvent.click(screen.getByRole('button', { name: 'Find melody' }))
    const list = await screen.findByRole('list', { name: 'Melody results' })
    expect(asked.melody).toEqual([{ notes: ['A4', 'A4', 'Bb4', 'C5', 'C5'], minSimilarity: 0.6 }])
    const [first, second] = within(list).getAllByTestId('melody-hit')
    expect(first).toHaveTextContent('Ode to Joy')
    expect(first).toHaveTextContent('Violin · bars 2–3')
    expect(first).toHaveTextContent('100%')
    expect(first).not.toHaveTextContent('this score')
    expect(second).toHaveTextContent('75%')
    expect(second).toHaveTextContent('this score')
    fireEvent.click(first as HTMLElement)
    expect(onOpen).toHaveBeenCalledWith({
      scoreId: 's_ode',
      noteIds: ['n_5', 'n_6', 'n_7', 'n_8', 'n_9'],
      measureId: 'm_2',
      partId: 'p_1',
    })
  })

  it('sends durations when the rhythm counts, and exact only on request', async () => {
    const { c, asked } = client()
    render(<SearchPanel client={c} onOpen={() => {}} />)
    await userEvent.type(screen.getByLabelText(/^Notes/), 'C4 D4 E4 F4')
    fireEvent.click(screen.getByLabelText('Ignore rhythm'))
    fireEvent.click(screen.getByLabelText('Exact matches only'))
    await userEvent.type(screen.getByLabelText(/^Durations/), '1 1 2')
    fireEvent.click(screen.getByRole('button', { name: 'Find melody' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('Give one duration per note (4)')
    expect(asked.melody).toEqual([])
    await userEvent.type(screen.getByLabelText(/^Durations/), ' 1/2')
    fireEvent.click(screen.getByRole('button', { name: 'Find melody' }))
    expect(await screen.findByText('No score holds this melody.')).toBeInTheDocument()
    expect(asked.melody).toEqual([
      { notes: ['C4', 'D4', 'E4', 'F4'], durations: ['1', '1', '2', '1/2'], minSimilarity: 1 },
    ])
  })

  it('refuses what is not a melody before asking the server', async () => {
    const { c, asked } = client()
    render(<SearchPanel client={c} onOpen={() => {}} />)
    await userEvent.type(screen.getByLabelText(/^Notes/), 'C4 D4 X4 F4')
    fireEvent.click(screen.getByRole('button', { name: 'Find melody' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('"X4" is not a note name')
    expect(asked.melody).toEqual([])
  })

  it('searches a handed-over selection at once, and fills the box from the selection', async () => {
    const { c, asked } = client({ melody: [ode] })
    const melody = {
      notes: ['E4', 'E4', 'F4', 'G4'],
      durations: ['1', '1', '1', '2'],
      part: 'p',
      voice: 1,
    }
    const { rerender } = render(
      <SearchPanel
        client={c}
        onOpen={() => {}}
        seed={{ id: 1, melody }}
        fromSelection={() => null}
      />,
    )
    await screen.findByRole('list', { name: 'Melody results' })
    expect(asked.melody).toEqual([{ notes: ['E4', 'E4', 'F4', 'G4'], minSimilarity: 0.6 }])
    expect(screen.getByLabelText(/^Notes/)).toHaveValue('E4 E4 F4 G4')
    rerender(
      <SearchPanel
        client={c}
        onOpen={() => {}}
        seed={{ id: 1, melody }}
        fromSelection={() => null}
      />,
    )
    expect(asked.melody).toHaveLength(1) // the same seed is not searched twice
    fireEvent.click(screen.getByRole('button', { name: 'Use the selection' }))
    expect(screen.getByText(/Select notes of one part/)).toBeInTheDocument()
  })
})

describe('SearchPanel, words and meaning', () => {
  it('lists text hits with their kind and opens the score at the comment', async () => {
    const hit: TextHit = {
      score_id: 's_2',
      title: 'Lament',
      kind: 'comment',
      ref: 'k_1',
      text: 'make the ending sadder',
      rank: 1,
    }
    const { c, asked } = client({ text: [hit] })
    const onOpen = vi.fn()
    render(<SearchPanel client={c} onOpen={onOpen} />)
    await userEvent.click(screen.getByRole('tab', { name: 'Words' }))
    await userEvent.type(screen.getByLabelText(/^Words in titles/), 'ending')
    fireEvent.click(screen.getByRole('button', { name: 'Search' }))
    const row = await screen.findByTestId('text-hit')
    expect(asked.text).toEqual(['ending'])
    expect(row).toHaveTextContent('Lament')
    expect(row).toHaveTextContent('Comment')
    expect(row).toHaveTextContent('make the ending sadder')
    fireEvent.click(row)
    expect(onOpen).toHaveBeenCalledWith({
      scoreId: 's_2',
      noteIds: [],
      measureId: null,
      partId: null,
      reveal: { kind: 'comment', id: 'k_1' },
    })
  })

  it('says so when search by meaning is turned off (503)', async () => {
    const { c } = client({
      semantic: new ApiError(503, 'semantic search is turned off', 'unavailable'),
    })
    render(<SearchPanel client={c} onOpen={() => {}} />)
    await userEvent.click(screen.getByRole('tab', { name: 'Meaning' }))
    await userEvent.type(screen.getByLabelText(/^Describe/), 'a sad slow ending')
    fireEvent.click(screen.getByRole('button', { name: 'Search by meaning' }))
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Search by meaning is not available here. The server says: semantic search is turned off',
    )
  })

  it('ranks meaning hits with their similarity', async () => {
    const hit: SemanticHit = {
      score_id: 's_3',
      title: 'Elegy',
      kind: 'chat',
      ref: 'c_1',
      text: 'let us make the last verse slower',
      similarity: 0.62,
    }
    const { c } = client({ semantic: [hit] })
    render(<SearchPanel client={c} onOpen={() => {}} />)
    await userEvent.click(screen.getByRole('tab', { name: 'Meaning' }))
    await userEvent.type(screen.getByLabelText(/^Describe/), 'a slow ending')
    fireEvent.click(screen.getByRole('button', { name: 'Search by meaning' }))
    const row = await screen.findByTestId('text-hit')
    expect(row).toHaveTextContent('Elegy')
    expect(row).toHaveTextContent('Chat')
    expect(row).toHaveTextContent('62%')
  })
})
