"""The embedded local stack: a real Apache Kafka broker and a Confluent-compatible schema registry.

There is no Docker engine on every developer machine or CI runner, but there is a JDK and Maven.
So the stack runs the genuine server jars from Maven Central as two local JVMs on 127.0.0.1:
Apache Kafka (KRaft, one combined broker+controller) and Apicurio Registry (in-memory, serving the
Confluent API at `/apis/ccompat/v7`). Everything it owns lives under one state directory.

    from streams.devtools.localstack import LocalStack
    endpoints = LocalStack(settings).up()  # StackEndpoints(bootstrap_servers, ...)
"""

from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.stack import (
    ComponentStatus,
    LocalStack,
    StackEndpoints,
    StackStatus,
)

__all__ = ["ComponentStatus", "LocalStack", "StackEndpoints", "StackError", "StackStatus"]
