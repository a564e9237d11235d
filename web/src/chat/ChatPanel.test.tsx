import { afterEach, describe, expect, it, vi } from 'vitest'
import { cleanup, fireEvent, render, screen } from '@testing-library/react'

afterEach(cleanup)
import { ChatPanel } from './ChatPanel'
import type { Persona } from './chat'

const personas: Persona[] = [
  {
    name: 'aureon',
    display_name: 'Aureon',
    color: '#2563eb',
    role: 'Arranger',
    abilities: [],
    writes: true,
  },
  {
    name: 'jeremyai',
    display_name: 'JeremyAI',
    color: '#c2255c',
    role: 'Composer',
    abilities: [],
    writes: true,
  },
]

function setup(canPost = true, focus: string | null = null) {
  const onPost = vi.fn()
  render(
    <ChatPanel
      scoreId="s_1"
      messages={[
        {
          id: 'c_1',
          author: 'Aureon',
          text: 'Done: 15 chords',
          time: '2026-01-01T10:00:00+00:00',
          authorKind: 'agent',
          agent: 'aureon',
          task: null,
        },
      ]}
      personas={personas}
      tasks={[]}
      colorOf={() => '#000'}
      canPost={canPost}
      onPost={onPost}
      focus={focus}
    />,
  )
  return onPost
}

function type(box: HTMLTextAreaElement, value: string) {
  fireEvent.change(box, { target: { value, selectionStart: value.length } })
  box.setSelectionRange(value.length, value.length)
  fireEvent.select(box)
}

describe('ChatPanel', () => {
  it('completes an @mention from the keyboard and posts with Enter', () => {
    const onPost = setup()
    expect(screen.getByText('Done: 15 chords')).toBeInTheDocument()
    const box = screen.getByLabelText<HTMLTextAreaElement>('Chat message')
    type(box, 'please @')
    expect(screen.getAllByRole('option')).toHaveLength(2)
    fireEvent.keyDown(box, { key: 'ArrowDown' })
    expect(screen.getByRole('option', { selected: true })).toHaveTextContent('@jeremyai')
    fireEvent.keyDown(box, { key: 'ArrowUp' })
    fireEvent.keyDown(box, { key: 'Tab' })
    expect(box.value).toBe('please @aureon ')
    expect(screen.queryByRole('listbox')).toBeNull()
    expect(onPost).not.toHaveBeenCalled()
    type(box, 'please @aureon harmonise bars 1-4')
    fireEvent.keyDown(box, { key: 'Enter' })
    expect(onPost).toHaveBeenCalledWith('please @aureon harmonise bars 1-4')
    expect(box.value).toBe('')
  })

  it('lets a viewer read but not post', () => {
    setup(false)
    expect(screen.queryByLabelText('Chat message')).toBeNull()
    expect(screen.getByText(/View only/)).toBeInTheDocument()
  })

  it('marks the message a search result opened the score at', () => {
    setup(true, 'c_1')
    const item = screen.getByText('Done: 15 chords').closest('li')
    expect(item).toHaveAttribute('aria-current', 'true')
    cleanup()
    setup(true, 'c_gone')
    expect(screen.getByText('Done: 15 chords').closest('li')).not.toHaveAttribute('aria-current')
  })
})
