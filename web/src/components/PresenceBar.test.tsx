import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/react'
import { PresenceBar } from './PresenceBar'
import type { ScoreSession } from '../score/session'

function fake(states: Map<number, unknown>, me: unknown): ScoreSession {
  return {
    awareness: { getLocalState: () => me },
    peers: () => [...states.entries()].map(([clientId, state]) => ({ clientId, state })),
  } as unknown as ScoreSession
}

describe('PresenceBar', () => {
  it('lists people and agents in their colours, agents badged', () => {
    const session = fake(
      new Map([
        [2, { user: { id: 'bob', name: 'Bob Dylan', color: '#2b8a3e', kind: 'person' } }],
        [3, { user: { id: 'aureon', name: 'aureon', color: '#5f3dc4', kind: 'agent' } }],
        [4, {}], // a client without presence is not listed
      ]),
      { user: { id: 'alice', name: 'Alice', color: '#d9480f', kind: 'person' } },
    )
    render(<PresenceBar session={session} tick={0} />)
    const list = screen.getByRole('list', { name: /People and agents/ })
    expect(list.querySelectorAll('li')).toHaveLength(3)
    expect(screen.getByLabelText('aureon, agent')).toHaveStyle({ backgroundColor: '#5f3dc4' })
    expect(screen.getByText('AI')).toBeInTheDocument()
    expect(screen.getByLabelText('Bob Dylan')).toBeInTheDocument()
  })
})

describe('PresenceBar agent status', () => {
  it("shows an agent's status beside it, not a person's", () => {
    const session = fake(
      new Map([
        [
          3,
          {
            user: { name: 'Aureon', color: '#2563eb', kind: 'agent' },
            status: 'waiting_for_review',
          },
        ],
        [4, { user: { name: 'Bob', color: '#2b8a3e', kind: 'person' }, status: 'writing' }],
      ]),
      null,
    )
    render(<PresenceBar session={session} tick={0} />)
    expect(screen.getAllByTestId('agent-status').map((e) => e.textContent)).toEqual([
      'waiting for review',
    ])
    expect(screen.getByTitle('Aureon (agent: waiting for review)')).toBeInTheDocument()
  })
})
