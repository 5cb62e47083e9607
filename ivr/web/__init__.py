"""The webhook over HTTP: request context, the voice and audio views, guards (signatures,
rate limits), engine steps against the store, TwiML rendering, logs, metrics and the server.

It may import `ivr.core`, `ivr.menu`, `ivr.audio`, `ivr.config`, `ivr.errors` and `store`;
never the simulator, the QA runner, the softphone or the CLI.
"""
