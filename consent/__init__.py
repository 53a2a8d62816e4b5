"""Consent (samtycke) per giver, scope, validity and withdrawal; rules.py decides what
may cross organisation lines. Models arrive with the consent issue."""
