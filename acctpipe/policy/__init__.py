"""Feedback-loop policy: classified events in, suppression and throttle decisions out.

The policies are pure functions over :class:`~acctpipe.policy.types.Event` values
(testable without a database); the loop that feeds them and stores their
decisions lives in :mod:`acctpipe.feedback`.
"""
