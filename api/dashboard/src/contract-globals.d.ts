// The dashboard type-checks the operation records (contract/) for the client's types, but never runs
// them: two of their schemas measure strings with Node's Buffer, declared here only as far as they use it.
declare const Buffer: { byteLength(s: string): number };
