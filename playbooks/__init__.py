"""Extranet onboarding: allocate (IPAM) → render per vendor → diff → apply → verify → roll back.

One agency is one transaction over the switches on its layer-2 path; state
(allocations, backups, the audit log, bulk jobs) is SQLite in `var/extranet.db`.
"""
