"""ontask: tells from a desktop screenshot and a task description whether a person is on-task.

A Kubernetes operator system: a small VLM student trained with GRPO against a large VLM judge
and rule-based verifiers, served with KServe, learning from corrections on Kafka.
"""

__version__ = "0.1.0"
