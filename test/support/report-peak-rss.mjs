// Preloaded into a child process (`node --import`): it reports its own peak RSS as it exits, on
// stderr, so that a test reads what the process held rather than guessing from outside.
process.on("exit", () => {
  process.stderr.write(`\npeak-rss-kib ${process.resourceUsage().maxRSS}\n`);
});
