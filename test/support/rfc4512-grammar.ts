/**
 * RFC 4512 §4.1's grammar for schema descriptions, as regular expressions over the single-space
 * form Canopy writes: a value that matches is a valid AttributeTypeDescription or
 * ObjectClassDescription (written apart from the server's parser, so that it checks it).
 */
const NUMBER = '(?:0|[1-9][0-9]*)';
const NUMERICOID = `${NUMBER}(?:\\.${NUMBER})+`;
const DESCR = '[A-Za-z][A-Za-z0-9-]*';
const OID = `(?:${DESCR}|${NUMERICOID})`;
const QDESCRS = `(?:'${DESCR}'|\\( '${DESCR}'(?: '${DESCR}')* \\))`;
const OIDS = `(?:${OID}|\\( ${OID}(?: \\$ ${OID})* \\))`;
const QDSTRING = "'(?:[^'\\\\]|\\\\27|\\\\5[Cc])+'";
const EXTENSIONS = `(?: X-[A-Za-z_-]+ (?:${QDSTRING}|\\( ${QDSTRING}(?: ${QDSTRING})* \\)))*`;
export const ATTRIBUTE_TYPE = new RegExp(
  `^\\( ${NUMERICOID}(?: NAME ${QDESCRS})?(?: DESC ${QDSTRING})?(?: OBSOLETE)?(?: SUP ${OID})?(?: EQUALITY ${OID})?` +
    `(?: ORDERING ${OID})?(?: SUBSTR ${OID})?(?: SYNTAX ${NUMERICOID}(?:\\{\\d+\\})?)?(?: SINGLE-VALUE)?(?: COLLECTIVE)?` +
    `(?: NO-USER-MODIFICATION)?(?: USAGE (?:userApplications|directoryOperation|distributedOperation|dSAOperation))?${EXTENSIONS} \\)$`,
);
export const OBJECT_CLASS = new RegExp(
  `^\\( ${NUMERICOID}(?: NAME ${QDESCRS})?(?: DESC ${QDSTRING})?(?: OBSOLETE)?(?: SUP ${OIDS})?(?: (?:ABSTRACT|STRUCTURAL|AUXILIARY))?` +
    `(?: MUST ${OIDS})?(?: MAY ${OIDS})?${EXTENSIONS} \\)$`,
);

