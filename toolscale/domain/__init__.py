"""A domain as the rest of ToolScale uses it: its spec read from `domains/<name>/`, then checked against
the engine (every SQL statement compiled under the authorizer) and the value generators. `spec` below
only describes a spec; this package, above the engine and populate, decides whether one is valid."""
