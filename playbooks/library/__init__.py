"""Ansible modules of dcops (found by Ansible next to playbooks/apply.yml)."""
