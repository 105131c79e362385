# The walls between duo's libraries (docs/DESIGN.md): each library's headers are reachable only by
# the targets that link it. A library's headers are included by its name, "synth/passkey.h",
# "model/llama.h", "train/config.h"; the include root that resolves such a name holds that one
# library and nothing else: <build>/include/<name>/<name> is a link to the library's folder. A
# target sees the roots of what it links (PUBLIC), so an include that crosses a wall (analysis/
# including "train/config.h") fails to compile: the header does not exist in its context.
# tests/walls/ proves that some of them hold.

# duo_headers(<target> <name> <folder>): <target>'s headers, in <folder>, are "<name>/...", for
# itself and whatever links it. Several targets of one folder share its root.
function(duo_headers target name folder)
  set(root ${PROJECT_BINARY_DIR}/include/${name})
  if(NOT IS_SYMLINK ${root}/${name})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${folder} ${root}/${name} SYMBOLIC)
  endif()
  target_include_directories(${target} PUBLIC ${root})
endfunction()
