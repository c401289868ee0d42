"""PostgREST's query-string grammar: `shape` (scan, parse), `tree` (the AST), and the pieces it reads with."""
