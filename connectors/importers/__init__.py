"""Consent and opt-outs from other tools' exports (Mailchimp, SendGrid, Klaviyo, a generic CSV).

`common` reads any export row by row and builds the records; one module per format maps its
columns; `pipeline` runs an import into Kafka (or a dry run) and counts what happened.
`consentgate import` (streams/cli/import_.py) is the command line over it.
"""
