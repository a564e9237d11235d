import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { chatValue, complete, completions, mentionAt, postChat, readChat, tasksOf } from './chat'
import type { Persona } from './chat'
import type { Json } from '../score/schema'

const P = (name: string, display: string): Persona => ({
  name,
  display_name: display,
  color: '#000',
  role: 'r',
  abilities: [],
  writes: true,
})
const PERSONAS = [P('aureon', 'Aureon'), P('jeremyai', 'JeremyAI'), P('amadeus', 'Wolfgang')]

describe('mentions', () => {
  it('finds the @word at the caret, not an e-mail or a finished word', () => {
    expect(mentionAt('hi @au', 6)).toEqual({ start: 3, query: 'au' })
    expect(mentionAt('@', 1)).toEqual({ start: 0, query: '' })
    expect(mentionAt('mail a@b', 8)).toBeNull()
    expect(mentionAt('@aureon harmonise', 17)).toBeNull()
  })
  it('completes by name, then by display name', () => {
    expect(completions(PERSONAS, 'a').map((p) => p.name)).toEqual(['aureon', 'amadeus'])
    expect(completions(PERSONAS, 'wolf').map((p) => p.name)).toEqual(['amadeus'])
    expect(completions(PERSONAS, 'zz')).toEqual([])
  })
  it('replaces the partial mention and puts the caret after it', () => {
    expect(complete('please @au bars 1-4', 7, 10, 'aureon')).toEqual({
      text: 'please @aureon bars 1-4',
      caret: 15,
    })
    expect(complete('@j', 0, 2, 'jeremyai')).toEqual({ text: '@jeremyai ', caret: 10 })
  })
})

describe('chat root', () => {
  it('writes schema messages and reads people and agents', () => {
    const doc = new Y.Doc()
    const chat = doc.getArray<Json>('chat')
    postChat(chat, 'Alice', '  @aureon harmonise bars 1-4 ')
    chat.push([
      {
        id: 'c_x',
        author: 'Aureon',
        text: 'Done.',
        kind: 'agent',
        author_kind: 'agent',
        agent: 'aureon',
        task: 't_1',
      },
      'junk',
      { text: 'no author' },
    ])
    const read = readChat(chat.toArray())
    expect(read).toHaveLength(2)
    expect(read[0]).toMatchObject({
      author: 'Alice',
      text: '@aureon harmonise bars 1-4',
      authorKind: 'person',
    })
    expect(read[0]?.id).toMatch(/^c_[0-9a-km-np-z]{12}$/)
    expect(read[1]).toMatchObject({ authorKind: 'agent', agent: 'aureon', task: 't_1' })
    expect(tasksOf(read)).toEqual(['t_1'])
    const v = chatValue('a', 'b', new Date('2026-01-02T03:04:05.678Z'))
    expect(v.time).toBe('2026-01-02T03:04:05.678+00:00')
    expect(v.kind).toBe('message')
  })
})
