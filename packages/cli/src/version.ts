/**
 * The version `tasks --version` prints; a test keeps it equal to package.json's.
 *
 * @since 0.1.0
 */

/** The CLI's version. */
export const version = "0.1.0"
