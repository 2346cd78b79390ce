/** How much of a provider's own text a message quotes. */
const QUOTE_LENGTH = 200;

/** One line, at most ~200 characters, quoted, with every secret blanked in case a server echoes it. */
export function quoteProviderText(text: string, secrets: readonly string[]): string {
  let line = redactSecrets(text, secrets);
  if (line.length > QUOTE_LENGTH) line = `${line.slice(0, QUOTE_LENGTH - 1)}…`;
  return JSON.stringify(line);
}

/** Server text on one line with every secret blanked (a server may echo the header it received). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let line = text.replace(/\s+/g, " ").trim();
  for (const secret of secrets) if (secret.length >= 4) line = line.replaceAll(secret, "[redacted]");
  return line;
}
