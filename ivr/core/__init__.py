"""The pure hotline: the menu model and its edges, the engine's step and its trace, identity
entry, number readers.

No I/O: nothing here touches Flask, a database, a file or a speech engine. It may import
the standard library, its pure third-party helpers (python-stdnum, num2words, pypinyin),
`ivr.errors`, and store's plain modules (`store.records`, `store.errors`,
`store.id_numbers`); nothing else.
"""
