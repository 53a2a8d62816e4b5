"""Personal case records and the access policy (cases/policy.py). Case models arrive
with the case-records issue; until then this app holds no data."""
