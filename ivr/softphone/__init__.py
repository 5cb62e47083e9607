"""The developer softphone (IVR_SOFTPHONE=1): a keypad page at /phone and its JSON API,
each call a simulated caller dialling an in-process copy of the hotline.

It may import `ivr.web` (request context, steps), `ivr.qa` (targets), `ivr.sim`,
`ivr.menu`, `ivr.core`, `ivr.config`, `ivr.errors` and `store`; never the CLI or the factory.
"""
