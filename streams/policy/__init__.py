"""The pure decision core: no Faust, no Kafka, no environment, no I/O. Records in, verdicts out.

Public API (imported from the modules, so that `streams.settings` loading `config` stays cheap):

    records.parse_record(obj, *, kind=None) -> Record         raises errors.InvalidRecord
    state.apply(state, record, config) -> RecipientState      consent and opt-out records
    state.Agreements().apply(partner_record) -> Agreements    partner agreements
    state.encode_state / decode_state                         table values (bytes)
    engine.decide(intent, state, agreements, config, *, now=None) -> Decision(verdict, new_state)
    engine.invalid_verdict(intent_id, error, config, *, now=None) -> Verdict
    records.violation_for(verdict, intent_or_raw) -> Violation | None
    Verdict.to_dict(), Violation.to_dict()                    JSON-ready
    replay.replay_records(lines, config) / replay_objects(records, config)

Modules: config (parameters), records (typed records, validation), addresses (normalization),
times (instants), state (per-address state, agreements, encoding), context (facts of one
decision), rules/ (one rule per module, in precedence order), content (promotional content and
opt-out wording), reasons (codes, precedence, severity), engine (decide), replay (in memory).
"""
