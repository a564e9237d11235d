import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import './styles.css'
import { App } from './App'
import './lib/perf'
import { loadToolkit } from './render/toolkit'

// A score page needs the renderer: start fetching and compiling it at once, in parallel
// with the page's REST calls and the document's sync.
if (window.location.pathname.startsWith('/scores/')) void loadToolkit().catch(() => {})

const root = document.getElementById('root')
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  )
