// Who is here: people and agents (badged), each in their colour.
import type { ScoreSession } from '../score/session'

export function PresenceBar({ session, tick }: { session: ScoreSession; tick: number }) {
  void tick
  const me = session.awareness.getLocalState() as { user?: { name: string; color: string } } | null
  const peers = session.peers().filter((p) => p.state.user)
  return (
    <ul
      className="flex items-center gap-1"
      aria-label="People and agents on this score"
      data-testid="presence"
    >
      {me?.user && <Avatar name={`${me.user.name} (you)`} color={me.user.color} agent={false} />}
      {peers.map(
        ({ clientId, state }) =>
          state.user && (
            <Avatar
              key={clientId}
              name={state.user.name}
              color={state.user.color}
              agent={state.user.kind === 'agent'}
              status={(state as { status?: unknown }).status}
            />
          ),
      )}
    </ul>
  )
}

function Avatar({
  name,
  color,
  agent,
  status,
}: {
  name: string
  color: string
  agent: boolean
  status?: unknown
}) {
  // an agent's status (reading, thinking, writing, waiting_for_review) shows beside it
  const doing = agent && typeof status === 'string' ? status.replace(/_/g, ' ') : null
  const initials = name
    .replace(/\(.*?\)/g, '')
    .replace(/[^\p{L}\p{N}\s]/gu, '')
    .trim()
    .split(/\s+/)
    .map((w) => w[0] ?? '')
    .join('')
    .slice(0, 2)
    .toUpperCase()
  return (
    <li
      className="relative flex items-center"
      title={agent ? `${name} (agent${doing ? `: ${doing}` : ''})` : name}
      data-presence={name}
      data-color={color}
    >
      <span
        className="flex h-7 w-7 items-center justify-center rounded-full text-xs font-semibold text-white ring-2 ring-white"
        style={{ backgroundColor: color }}
        aria-label={agent ? `${name}, agent` : name}
      >
        {initials || '?'}
      </span>
      {agent && (
        <span className="absolute -bottom-1 -right-1 rounded bg-slate-800 px-0.5 text-[9px] font-bold text-white">
          AI
        </span>
      )}
      {doing && (
        <span className="ml-1 align-middle text-[10px] text-slate-600" data-testid="agent-status">
          {doing}
        </span>
      )}
    </li>
  )
}
