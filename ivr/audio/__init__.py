"""Prompt audio offline: what to render, the speech engine's child process, WAV joining,
and the on-disk catalogue the web serves from.

It may import `ivr.core` and `ivr.errors`; never the web, the store or the tools.
"""
