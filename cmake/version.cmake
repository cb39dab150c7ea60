# Writes version.cc with the checkout's `git describe` at build time (not only
# at configure time), so `ksight version` and ksight_build_info name the
# revision the binary was built from. configure_file() rewrites the file only
# when the text changes, so an unchanged revision rebuilds nothing.
# Inputs: SRC (version.cc.in), DST (version.cc), SOURCE_DIR.
execute_process(COMMAND git describe --always --dirty --tags
  WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE KSIGHT_GIT OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT KSIGHT_GIT)
  set(KSIGHT_GIT unknown)
endif()
configure_file(${SRC} ${DST} @ONLY)
