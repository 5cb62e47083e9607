"""The pure hotline: the menu model, the engine's step, identity entry, number readers.

No I/O: nothing here touches Flask, a database, a file or a speech engine. It may import
the standard library, its pure third-party helpers (python-stdnum, num2words, pypinyin),
`ivr.errors`, and store's plain records (`store.records`, `store.errors`); nothing else.
"""
