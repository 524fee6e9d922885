"""The pure decision core: no Faust, no Kafka. Records in, verdicts out."""
