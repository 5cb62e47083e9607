"""The caller simulator: a Twilio-faithful caller that drives any voice webhook, in-process
or over HTTP, and records what it heard. pytest, the CLI, the QA runner and the softphone
all call through it. It may import `ivr.core.identity` (masking), `ivr.core.trace` (the
engine's trace an answer carries) and `ivr.errors`; never the web, the store or the tools
above it.
"""
