"""The command line (python run_ivr.py …, or flask --app ivr …): serve, import, menus,
prompts, the database, PIN keys, QA batches, call records and the terminal phone.

The top of the tree: it may import any `ivr` package and `store`, but not the factory
(`ivr.app`), which registers these commands on the app it builds.
"""
