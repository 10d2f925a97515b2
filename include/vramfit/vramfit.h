/* vramfit.h - umbrella header of the vramfit library: include this one.
 *
 * Layers (each header documents its own contracts): vf_error.h (status codes, caller-owned error
 * record), vf_checked.h (overflow-checked arithmetic), vf_parser.h (safetensors headers, shard
 * index, checkpoint resolution), vf_tensors.h (tensor table and architecture), vf_adapters.h
 * (LoRA/OSFT adapter counts, PEFT configs), vf_estimator.h (Training Hub's memory formulas),
 * vf_snapshot.h (header snapshots), vf_report.h (the JSON documents: text buffer, JSON writer,
 * inspect and adapters reports), vf_version.h (vf_version()). Ownership rule everywhere: a
 * `T **out` parameter hands the caller an object to release with its `*_free` (NULL-safe); pointers
 * returned by getters are borrowed from their parent object. */
#ifndef VRAMFIT_VRAMFIT_H
#define VRAMFIT_VRAMFIT_H

#include "vf_error.h"
#include "vf_checked.h"
#include "vf_parser.h"
#include "vf_tensors.h"
#include "vf_adapters.h"
#include "vf_estimator.h"
#include "vf_abi.h"
#include "vf_snapshot.h"
#include "vf_verify.h"
#include "vf_report.h"
#include "vramfit/vf_version.h" /* generated into the build tree, installed beside this file */

#endif
