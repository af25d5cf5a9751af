"""Adapters: real technology plugged into the domain's ports."""
