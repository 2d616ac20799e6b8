; PeerDrop's additions to Tauri's NSIS installer (bundle > windows > nsis > installerHooks in
; tauri.conf.json):
; - a "Send to > PeerDrop" entry in Explorer's context menu (a shortcut in the SendTo folder);
;   Explorer starts peerdrop-app.exe with the chosen files as arguments, and a running PeerDrop
;   receives them through tauri-plugin-single-instance;
; - "Open with > PeerDrop" for every file type, without taking over any type's default app
;   (Applications\peerdrop-app.exe\SupportedTypes "*"). Tauri's fileAssociations would make
;   PeerDrop the default opener of the listed extensions, which a sharing tool must not do.
; The peerdrop:// scheme is registered by Tauri's template itself (plugins > deep-link).

!macro NSIS_HOOK_POSTINSTALL
  CreateShortCut "$SENDTO\${PRODUCTNAME}.lnk" "$INSTDIR\${MAINBINARYNAME}.exe" "" "$INSTDIR\${MAINBINARYNAME}.exe" 0
  WriteRegStr SHCTX "Software\Classes\Applications\${MAINBINARYNAME}.exe" "FriendlyAppName" "${PRODUCTNAME}"
  WriteRegStr SHCTX "Software\Classes\Applications\${MAINBINARYNAME}.exe\SupportedTypes" "*" ""
  WriteRegStr SHCTX "Software\Classes\Applications\${MAINBINARYNAME}.exe\shell\open\command" "" '"$INSTDIR\${MAINBINARYNAME}.exe" "%1"'
  WriteRegStr SHCTX "Software\Classes\*\OpenWithList\${MAINBINARYNAME}.exe" "" ""
!macroend

!macro NSIS_HOOK_POSTUNINSTALL
  Delete "$SENDTO\${PRODUCTNAME}.lnk"
  DeleteRegKey SHCTX "Software\Classes\Applications\${MAINBINARYNAME}.exe"
  DeleteRegKey SHCTX "Software\Classes\*\OpenWithList\${MAINBINARYNAME}.exe"
!macroend
