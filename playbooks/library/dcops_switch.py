#!/usr/bin/python
"""Ansible module: one switch's batch of dcops units, through the same `run_switch` the netmiko engine uses."""

from __future__ import annotations

DOCUMENTATION = r"""
module: dcops_switch
short_description: Back up, diff, apply, verify and save dcops units on one switch over netmiko
description:
  - Runs dcops' run_switch for the switch's units (one per agency). A unit the switch rejects is put back as it
    was; the rest of the batch carries on. Check mode diffs and changes nothing.
options:
  switch:
    description: name, vendor (netmiko device type), host, port, username, password_env (the variable that
      holds the password).
    type: dict
    required: true
  units:
    description: "[{agency, want: [[kind, key, [[field, value], ...]], ...]}]"
    type: list
    elements: dict
    required: true
  state:
    description: The dcops state database (backups before a change; the switch's lock lives beside it).
    type: path
  stop_file:
    description: When this file exists, no further unit is started.
    type: path
  job:
    description: The dcops job (in the state database) whose progress this switch reports, unit by unit.
    type: int
  driver:
    description: The dcops switch driver.
    type: str
    default: netmiko
"""

RETURN = r"""
dcops:
  description: the switch's run; results per unit with status, changed, diff, commands, undo, error.
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "switch": {"type": "dict", "required": True},
            "units": {"type": "list", "elements": "dict", "required": True},
            "state": {"type": "path"},
            "stop_file": {"type": "path"},
            "job": {"type": "int"},
            "driver": {"type": "str", "default": "netmiko"},
        },
        supports_check_mode=True,
    )
    from playbooks.task import switch_task

    result = switch_task(module.params, check_mode=module.check_mode)
    if result["failed"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
