// Search attributes every durabox workflow carries, so operators can filter in the Temporal UI.
import { defineSearchAttributeKey } from '@temporalio/common';

export const SA_ACCOUNT = defineSearchAttributeKey('DuraboxAccount', 'KEYWORD');
export const SA_CAPABILITY = defineSearchAttributeKey('DuraboxCapability', 'KEYWORD');
export const SA_RUNTIME = defineSearchAttributeKey('DuraboxRuntime', 'KEYWORD');
export const SA_SESSION = defineSearchAttributeKey('DuraboxSession', 'KEYWORD');
/** Set when a task fails: its error code (timeout, no_capacity, …), so lists and filters need no history. */
export const SA_ERROR = defineSearchAttributeKey('DuraboxError', 'KEYWORD');
/** The worker holding a session: a restarted worker finds the sessions whose containers it must keep. */
export const SA_HOST = defineSearchAttributeKey('DuraboxHost', 'KEYWORD');
export const SEARCH_ATTRIBUTES = [SA_ACCOUNT, SA_CAPABILITY, SA_RUNTIME, SA_SESSION, SA_ERROR, SA_HOST];
