"""Alerting: rules (YAML) evaluated on samples and trap events → alert states → incidents → notifiers.

rules.py reads alerts/rules/*.yml strictly; engine.py moves alerts through
pending, firing and resolved (hysteresis, `for`, latching, staleness);
incidents.py groups them, applies silences and inhibitions, acknowledges and
escalates; config.py reads who is notified (alerts/notify.yml) and
oncall.py who is on call; notifiers/ deliver; state.py keeps it all in the
embedded store; export.py writes the same rules for Prometheus and
Alertmanager; cli.py is `dcops alerts`.
"""
