"""One module per verb, each a short sequence of hook calls and state transitions; read
them next to the README's "How a release goes" and docs/engine.md's state table."""
