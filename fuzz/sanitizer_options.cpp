// Default sanitizer options of the fuzz targets, so that a crash input
// reproduces with the same settings whether or not the environment sets
// UBSAN_OPTIONS / ASAN_OPTIONS (those still override key by key).

#ifndef EVENTCAST_UBSAN_SUPPRESSIONS
#error "EVENTCAST_UBSAN_SUPPRESSIONS (path of fuzz/ubsan.supp) must be defined"
#endif

extern "C" const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1:report_error_type=1"
         ":suppressions=" EVENTCAST_UBSAN_SUPPRESSIONS;
}

extern "C" const char* __asan_default_options() {
  return "detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1";
}
