"""Menus as data: reading and checking the YAML, its versions, its paths and its pictures.

It may import `ivr.core` (the model it loads into and the read-backs it checks),
`ivr.errors` and its YAML and drawing libraries; never the web, the store or the tools.
"""
