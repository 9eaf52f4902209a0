import fc from 'fast-check';

/** Test fixture: argv as it really occurs plus every awkward character a shell could care about. */
export const argvArbitrary = fc.array(
  fc.oneof(
    // NUL cannot occur in a C argv; quoteArgv rejects it (its own unit test).
    fc.string({ unit: 'binary' }).map((s) => s.replaceAll('\0', '')),
    fc.string({ unit: fc.constantFrom(...`'"\\$\`!*?[]{}()<>|&;#~= \t\n%@:,.+-_/aZ09é日`.split('')) }),
    fc.constantFrom('', "'", "''", '\\', '-', '--', 'A=b', '~root', '$(id)', '`id`'),
  ),
  { minLength: 1, maxLength: 8 },
);
