#!/usr/bin/env node
/** `tsvsadm`: ipvsadm-compatible administration (see its issue). */
process.stderr.write('tsvsadm: not implemented yet\n');
process.exitCode = 2;
