"""HTTP connectors: outside signals (unsubscribe clicks, SMS keywords, provider events, consent
forms) turned into contract records on Kafka, answered only once the broker acknowledged them.

One aiohttp application (`app.build_app`) serves every enabled connector; `consentgate connectors`
runs it. See connectors/README.md.
"""
