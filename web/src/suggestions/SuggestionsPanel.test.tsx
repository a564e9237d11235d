import { afterEach, describe, expect, it, vi } from 'vitest'
import { cleanup, fireEvent, render, screen } from '@testing-library/react'

afterEach(cleanup)
import { SuggestionsPanel } from './SuggestionsPanel'
import type { TaskReview } from './suggestions'

const review: TaskReview = {
  task: 't_1',
  agent: 'aureon',
  reason: 'Aureon: harmonise bars 1-2',
  report: { before: { parallel_fifths: 2 }, after: { parallel_fifths: 0 } },
  measures: [
    { measure: 'm_1', ids: ['g_1', 'g_2'], pending: true },
    { measure: 'm_2', ids: ['g_3'], pending: true },
  ],
}

function setup(readOnly = false) {
  const onAccept = vi.fn()
  const onReject = vi.fn()
  render(
    <SuggestionsPanel
      reviews={[review]}
      numberOf={(m) => Number(m.slice(2))}
      colorOf={() => '#2563eb'}
      readOnly={readOnly}
      focus={null}
      onAccept={onAccept}
      onReject={onReject}
    />,
  )
  return { onAccept, onReject }
}

describe('SuggestionsPanel', () => {
  it('shows the reason and the report; decides per bar or all, by mouse', () => {
    const { onAccept, onReject } = setup()
    expect(screen.getByText('Aureon: harmonise bars 1-2')).toBeInTheDocument()
    expect(screen.getByText('parallel 5ths 0 (before 2)')).toBeInTheDocument()
    fireEvent.click(screen.getAllByRole('button', { name: 'Accept' })[1] as HTMLElement)
    expect(onAccept).toHaveBeenLastCalledWith(['g_3'])
    fireEvent.click(screen.getByRole('button', { name: 'Reject all' }))
    expect(onReject).toHaveBeenLastCalledWith(['g_1', 'g_2', 'g_3'])
  })

  it('decides by keyboard on a focused bar, and keeps the keys from the score', () => {
    const { onAccept, onReject } = setup()
    const bar1 = screen.getByLabelText('Bar 1')
    const bar2 = screen.getByLabelText('Bar 2')
    bar1.focus()
    const seen = vi.fn()
    window.addEventListener('keydown', seen)
    fireEvent.keyDown(bar1, { key: 'ArrowDown' })
    expect(document.activeElement).toBe(bar2)
    fireEvent.keyDown(bar2, { key: 'Enter' })
    expect(onAccept).toHaveBeenLastCalledWith(['g_3'])
    fireEvent.keyDown(bar1, { key: 'n' })
    expect(onReject).toHaveBeenLastCalledWith(['g_1', 'g_2'])
    fireEvent.keyDown(bar1, { key: 'Y', shiftKey: true })
    expect(onAccept).toHaveBeenLastCalledWith(['g_1', 'g_2', 'g_3'])
    expect(seen).not.toHaveBeenCalled()
    window.removeEventListener('keydown', seen)
  })

  it('offers no decisions to a viewer', () => {
    const { onAccept } = setup(true)
    expect(screen.queryByRole('button', { name: 'Accept all' })).toBeNull()
    fireEvent.keyDown(screen.getByLabelText('Bar 1'), { key: 'Enter' })
    expect(onAccept).not.toHaveBeenCalled()
  })
})
